//! Descr indices, one type per table of `Tables`, so that a field descr
//! cannot be passed where a call descr is expected. Each indexes its
//! table directly (`tables.fields[id]`).

use super::{AllocDescr, ArrayDescr, CallDescr, DriverDescr, EnumDescr, FieldDescr, JitCode};
use std::fmt;
use std::ops::Index;

/// What every descr index can do, whatever its table: the visitors of
/// the instruction and operation tables read and write them as numbers.
pub trait AnyId {
    fn raw(&self) -> u16;
    fn set_raw(&mut self, v: u16);
}

macro_rules! descr_ids {
    ($( $(#[$m:meta])* $id:ident => $descr:ty; )*) => {$(
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $id(pub u16);

        impl $id {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Debug for $id {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl fmt::Display for $id {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl AnyId for $id {
            fn raw(&self) -> u16 {
                self.0
            }
            fn set_raw(&mut self, v: u16) {
                self.0 = v;
            }
        }

        impl Index<$id> for [$descr] {
            type Output = $descr;
            fn index(&self, id: $id) -> &$descr {
                &self[id.0 as usize]
            }
        }
    )*};
}

descr_ids! {
    /// An entry of `Tables::fields`.
    FieldId => FieldDescr;
    /// An entry of `Tables::arrays`.
    ArrayId => ArrayDescr;
    /// An entry of `Tables::enums`.
    EnumId => EnumDescr;
    /// An entry of `Tables::calls`.
    CallId => CallDescr;
    /// An entry of `Tables::jitcodes`.
    JitCodeId => JitCode;
    /// An entry of `Tables::allocs`.
    AllocId => AllocDescr;
    /// An entry of `Tables::drivers`.
    DriverId => DriverDescr;
    /// An entry of `Tables::strings`.
    StringId => &'static str;
}

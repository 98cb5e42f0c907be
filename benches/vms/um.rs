//! The Universal Machine benchmark: sandmark
//! (`../shared/programs/um/sandmark.umz`, its expected output beside it),
//! run by the UM (`targets/um`) and by the C UM of
//! `../shared/peers/um/um.c` built with `cc -O2`, side by side.

use crate::baselines::Baselines;
use crate::configs::{Benchmark, Config, Kind, Selection, State};
use crate::vms::Vms;
use std::path::Path;

/// The benchmark (when selected), and a message if it is skipped.
pub fn benchmarks(
    sel: &Selection,
    vms: &Vms,
    c: Result<&Baselines, &str>,
) -> (Vec<Benchmark>, Vec<String>) {
    let name = "um sandmark.umz";
    if sel.filter.as_deref().is_some_and(|f| !name.contains(f)) {
        return (Vec::new(), Vec::new());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/programs/um");
    let expected = match std::fs::read(dir.join("sandmark-output.txt")) {
        Ok(bytes) => bytes,
        Err(e) => {
            let why = format!("skipping {name}: cannot read {}: {e}", dir.display());
            return (Vec::new(), vec![why]);
        }
    };
    let args = [dir.join("sandmark.umz").into_os_string()];
    let mut configs = vec![
        Config::vm("um", &vms.um, Kind::Off, &args),
        Config::vm("um", &vms.um, Kind::Mode("jit"), &args),
    ];
    let c_um = c.map_err(str::to_string).and_then(Baselines::um);
    configs.push(Config::new(
        "C: um.c, cc -O2".to_string(),
        Kind::C,
        match c_um {
            Ok(exe) => State::Ready(crate::configs::Cmd {
                program: exe,
                args: args.to_vec(),
            }),
            Err(why) => State::Skipped(why),
        },
    ));
    let bench = Benchmark {
        name: name.to_string(),
        stdin: None,
        expected,
        configs,
    };
    (vec![bench], Vec::new())
}

scan b: two scanning loops entered over and over from the loop around them
cells: c0 rounds  c1 counter  c2 zero  c3 to c12 ones  c13 zero
four rounds of two hundred and fifty; each time the pointer scans right
to the first zero cell and back left to the zero at c2
the scans are the hot loops; their exits bridge into each other
at the end c3 plus sixty four is printed ("A") and a newline

>>>+>+>+>+>+>+>+>+>+>+<<<<<<<<<<<<                                c3 to c12 are 1
++++
[
  >>+++++[<++++++++++++++++++++++++++++++++++++++++++++++++++>-]<  c1 is 250
  [->>[>]<[<]<]
  <-
]
>>>++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++.
>[-]++++++++++.

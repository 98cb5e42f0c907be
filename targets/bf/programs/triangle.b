triangle b: prints a triangle of 40 rows of stars (row k has k stars)
(nested loops whose inner trip count changes every time)

cells: c0 rows left  c1 width  c2 copy of width  c3 star  c4 newline
>>>>++++++++++              c4 = 10
<<++++++[>+++++++<-]        c3 = 6 times 7 = 42
<<++++++++++ ++++++++++ ++++++++++ ++++++++++     c0 = 40
[                           for each row
  >+                        width = width plus 1
  [>+>.<<-]                 print width stars (moving width into c2)
  >[<+>-]                   move c2 back into width
  >>.                       newline
  <<<<-                     one row less
]

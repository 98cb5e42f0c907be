nested b: three nested counting loops (100 times 150 times 201 = 3015000
innermost iterations); each innermost iteration adds one to a cell; at the
end that cell (3015000 mod 256 = 88) is printed: "X" and a newline

cells: c0 outer  c1 middle  c2 inner  c3 sum  c4 scratch
++++++++++[>++++++++++<-]>[<+>-]<       c0 = 100
[
  >++++++++++++++[>++++++++++<-]>[<+>-]<++++++++++   c1 = 14 times 10 plus 10 = 150
  [
    >>>++++++++++[<<++++++++++++++++++++>>-]<<+      c2 = 10 times 20 plus 1 = 201 (c4 counts)
    [>+<-]                              c3 = c3 plus 201 (one step per iteration)
    <-
  ]
  <-
]
>>>.                                    print c3
[-]++++++++++.                          newline

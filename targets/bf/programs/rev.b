rev b: reads one line from the input and prints it reversed then a newline
The line must end with a newline (c0 stays 0 and stops the printing loop)
>,----------[++++++++++>,----------]   read up to the newline (stored as 0)
<[.<]                                   print backwards down to c0
++++++++++.                             newline

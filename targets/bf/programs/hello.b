hello b: prints "Hello from metatrace!" and a newline

set up c1=70 c2=100 c3=110 c4=30 c5=10 with c0 as the loop counter
++++++++++[>+++++++>++++++++++>+++++++++++>+++>+<<<<<-]
>++.                H  (c1: 70 to 72)
>+.                 e  (c2: 100 to 101)
>--.                l  (c3: 110 to 108)
.                   l
+++.                o  (c3: 111)
>++.                space  (c4: 32)
<<+.                f  (c2: 102)
>+++.               r  (c3: 114)
---.                o  (c3: 111)
--.                 m  (c3: 109)
>.                  space
<.                  m
<-.                 e  (c2: 101)
>+++++++.           t  (c3: 116)
<----.              a  (c2: 97)
>.                  t
--.                 r  (c3: 114)
<.                  a
++.                 c  (c2: 99)
++.                 e  (c2: 101)
>>+.                !  (c4: 33)
>.                  newline  (c5: 10)

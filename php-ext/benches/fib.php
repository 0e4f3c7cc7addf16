<?php
// fib(30): ~1.35 M user-function calls. Prints the wall time of the call
// alone, in ms, so PHP start-up is not part of the figure.
function fib($n) { return $n < 2 ? $n : fib($n - 1) + fib($n - 2); }
$t = hrtime(true);
fib(30);
printf("%.3f\n", (hrtime(true) - $t) / 1e6);

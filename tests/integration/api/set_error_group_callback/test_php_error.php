<?php
/*DESCRIPTION
The error group callback also runs for a recorded PHP error: it gets the
level name as klass, the error message and the file, and its answer
names the error's group.
*/

/*EXPECT_REGEX
^\s*klass=E_USER_WARNING message=low disk file=.*test_php_error\.php
\s*Warning: low disk in .* on line \d+\s*$
*/

/*EXPECT_TRACED_ERRORS
[
  "?? agent run id",
  [
    [
      "?? when",
      "OtherTransaction/php__FILE__",
      "low disk",
      "E_USER_WARNING",
      {
        "stack_trace": "??",
        "agentAttributes": {
          "error.group.name": "disk"
        },
        "intrinsics": "??"
      },
      "?? transaction ID"
    ]
  ]
]
*/

newrelic_set_error_group_callback(function ($txn, $err) {
    echo 'klass=', $err['klass'], ' message=', $err['message'], ' file=', $err['file'], "\n";
    return 'disk';
});
trigger_error('low disk', E_USER_WARNING);

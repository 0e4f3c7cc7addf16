<?php
/*DESCRIPTION
With mysqli's error reporting off, a failed query returns false: the
application sees exactly that (and its error message), the query is still
a datastore segment, and with error_collector.record_database_errors on
(the default) the failure is a MysqlError carrying mysqli_error()'s
message and the stack of the call.
*/

/*INI
newrelic.transaction_tracer.explain_threshold = 0
newrelic.transaction_tracer.explain_enabled = true
*/

/*EXPECT
bool(false)
Table 'ENV_DB.no_such_table' doesn't exist
*/

/*EXPECT_METRICS_EXIST
Datastore/statement/MySQL/no_such_table/select, 1
*/

/*EXPECT_TRACED_ERRORS
[
  "?? agent run id",
  [
    [
      "?? when",
      "OtherTransaction/php__FILE__",
      "Table 'ENV[MYSQL_DB].no_such_table' doesn't exist",
      "MysqlError",
      {
        "stack_trace": [
          " in mysqli_query called at __FILE__ (??)",
          " in lookup called at __FILE__ (??)"
        ],
        "agentAttributes": "??",
        "intrinsics": "??"
      },
      "?? transaction ID"
    ]
  ]
]
*/

require_once(__DIR__ . '/mysqli.inc');

function lookup($link)
{
    return mysqli_query($link, "SELECT * FROM no_such_table");
}

$link = mysqli_test_link();
var_dump(lookup($link));
echo str_replace($MYSQL_DB, 'ENV_DB', mysqli_error($link)), "\n";

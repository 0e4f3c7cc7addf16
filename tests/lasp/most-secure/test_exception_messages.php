<?php
/*DESCRIPTION
The allow_raw_exception_messages policy disabled: a noticed error keeps
its class but its message is replaced in the error trace and event.
*/

/*EXPECT
done
*/

/*EXPECT_TRACED_ERRORS
[
  "?? agent run id",
  [
    [
      "?? when",
      "OtherTransaction/php__FILE__",
      "Message removed by New Relic security settings",
      "RuntimeException",
      "??",
      "?? transaction ID"
    ]
  ]
]
*/

newrelic_notice_error(new RuntimeException('card 4111 1111 1111 1111 declined'));
echo "done\n";

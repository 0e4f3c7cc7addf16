<?php
/*DESCRIPTION
The allow_raw_exception_messages policy enabled: the message is kept.
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
      "/^Noticed exception 'RuntimeException' with message 'card declined' in /",
      "RuntimeException",
      "??",
      "?? transaction ID"
    ]
  ]
]
*/

newrelic_notice_error(new RuntimeException('card declined'));
echo "done\n";

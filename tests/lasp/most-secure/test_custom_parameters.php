<?php
/*DESCRIPTION
The custom_parameters policy: newrelic_add_custom_parameter() is refused (false) and no user attribute is sent.
*/

/*EXPECT
ok - add_custom_parameter
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  "?? sampling information",
  [
    [
      "??",
      {},
      {}
    ]
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../integration/include/tap.php');

tap_identical(false, newrelic_add_custom_parameter('plan', 'gold'), 'add_custom_parameter');

<?php
/*DESCRIPTION
The custom_parameters policy: newrelic_add_custom_parameter() records the user attribute.
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
      {"plan": "gold"},
      {}
    ]
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../integration/include/tap.php');

tap_identical(true, newrelic_add_custom_parameter('plan', 'gold'), 'add_custom_parameter');

<?php
/*DESCRIPTION
newrelic_name_transaction() wins over framework naming, whichever comes
first: the template filter runs after the API call and does not rename.
*/

/*EXPECT
[Hello]
BODY!
single.php
*/

/*EXPECT_METRICS_EXIST
OtherTransaction/Custom/my-page, 1
Supportability/framework/WordPress/detected, 1
*/

/*EXPECT_METRICS_DONT_EXIST
OtherTransaction/Action/single
*/

newrelic_name_transaction('my-page');
require_once __DIR__ . '/mock-wordpress-app.php';

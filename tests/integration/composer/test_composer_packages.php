<?php
/*DESCRIPTION
When vendor/autoload.php runs and Composer's runtime files are beside it,
every installed package but the application itself is reported with its
version (a leading "v" removed), read from vendor/composer/installed.php.
*/

/*EXPECT
loaded
*/

/*EXPECT_METRICS_EXIST
Supportability/library/Composer/detected, 1
*/

/*EXPECT_PHP_PACKAGES
command=cat composer-show.json
expect_all
*/

require __DIR__ . '/vendor/autoload.php';
echo "loaded\n";

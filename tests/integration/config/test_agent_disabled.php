<?php
/*DESCRIPTION
With newrelic.enabled off the agent stays out of the way: the script runs
normally and nothing is sent.
*/

/*INI
newrelic.enabled = 0
*/

/*EXPECT_HARVEST no*/

/*EXPECT
still runs
*/

echo "still runs\n";

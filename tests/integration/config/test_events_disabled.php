<?php
/*DESCRIPTION
Transaction events, span events and custom events can each be turned off;
metrics are still sent. With custom events off, New Relic's agent returns
from newrelic_record_custom_event() before counting the call.
*/

/*INI
newrelic.transaction_events.enabled = 0
newrelic.span_events_enabled = 0
newrelic.custom_insights_events.enabled = 0
*/

/*EXPECT
done
*/

/*EXPECT_ANALYTICS_EVENTS null*/

/*EXPECT_SPAN_EVENTS null*/

/*EXPECT_CUSTOM_EVENTS null*/

/*EXPECT_METRICS_EXIST
OtherTransaction/all, 1
*/

/*EXPECT_METRICS_DONT_EXIST
Supportability/api/record_custom_event
*/

newrelic_record_custom_event('NotRecorded', array('a' => 1));
echo "done\n";

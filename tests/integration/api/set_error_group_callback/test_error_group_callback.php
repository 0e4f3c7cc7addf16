<?php
/*DESCRIPTION
newrelic_set_error_group_callback() registers a two-parameter callable;
when an error is recorded (here a noticed exception) it is called with
the transaction's data (request_uri, path, method, status_code) and the
error's (klass, message, file, stack), and a non-empty string it returns
becomes the error.group.name attribute of the error trace and event.
*/

/*EXPECT
ok - registered
txn keys: request_uri,path,method,status_code
err keys: klass,message,file,stack
klass=RuntimeException message=disk full
*/

/*EXPECT_METRICS_EXIST
Supportability/api/set_error_group_callback, 1
*/

/*EXPECT_ERROR_EVENTS
[
  "?? agent run id",
  "?? sampling information",
  [
    [
      {
        "type": "TransactionError",
        "timestamp": "??",
        "error.class": "RuntimeException",
        "error.message": "??",
        "transactionName": "OtherTransaction/php__FILE__",
        "duration": "??",
        "nr.transactionGuid": "??",
        "guid": "??",
        "sampled": true,
        "priority": "??",
        "traceId": "??",
        "spanId": "??"
      },
      {},
      {
        "error.group.name": "storage-errors"
      }
    ]
  ]
]
*/

require_once(realpath(dirname(__FILE__)) . '/../../include/tap.php');

$registered = newrelic_set_error_group_callback(function ($txn, $err) {
    echo 'txn keys: ', implode(',', array_keys($txn)), "\n";
    echo 'err keys: ', implode(',', array_keys($err)), "\n";
    echo 'klass=', $err['klass'], ' message=', $err['message'], "\n";
    return 'storage-errors';
});
tap_identical(true, $registered, 'registered');
newrelic_notice_error(new RuntimeException('disk full'));

<?php
/*DESCRIPTION
A SoapClient call is an external segment made by SoapClient::__doRequest:
URL the request's location (without its query), library SoapClient, no
method (New Relic records none). A subclass overriding __doRequest and
calling the parent's is measured the same way.
*/

/*EXPECT
hi
hi
*/

/*EXPECT_METRICS_EXIST
External/all, 2
External/127.0.0.1/all, 2
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "http",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "External/127.0.0.1/all",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "client",
      "component": "SoapClient"
    },
    {},
    {
      "http.url": "http://ENV[EXTERNAL_HOST]/cat",
      "http.statusCode": 0
    }
  ]
]
*/

require_once(__DIR__ . '/../include/config.php');

$location = "http://" . make_tracing_url(__DIR__ . '/../include/soap_endpoint.php');

$client = new SoapClient(null, ['location' => $location, 'uri' => 'urn:seraph']);
echo $client->__soapCall('hello', []), "\n";

class LoggingClient extends SoapClient
{
    // PHP 8.5 added $uriParserClass; an internal method refuses an extra
    // argument before 8.5, so the parent gets exactly what this was given.
    public function __doRequest($request, $location, $action, $version, $oneWay = false, $uriParserClass = null): ?string
    {
        return parent::__doRequest(...func_get_args());
    }
}
$sub = new LoggingClient(null, ['location' => $location, 'uri' => 'urn:seraph']);
echo $sub->__soapCall('hello', []), "\n";

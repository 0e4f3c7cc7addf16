<?php
/*
 * Run by the runner's /cat endpoint: answers any SOAP call with the
 * response to `hello` (the runner does not forward request bodies, so
 * this is a fixed reply rather than a SoapServer).
 */
header('Content-Type: text/xml; charset=utf-8');
echo '<?xml version="1.0" encoding="UTF-8"?>'
    . '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="urn:seraph">'
    . '<SOAP-ENV:Body><ns1:helloResponse><return>hi</return></ns1:helloResponse></SOAP-ENV:Body>'
    . '</SOAP-ENV:Envelope>';

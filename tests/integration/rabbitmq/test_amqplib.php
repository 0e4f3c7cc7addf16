<?php
/*DESCRIPTION
php-amqplib against the real RabbitMQ: basic_publish is a message segment
MessageBroker/RabbitMQ/Exchange/Produce/Named/<exchange> ("Default" for
the default exchange) with the broker's host and port and the routing key;
the message carries the trace headers in its application_headers (next to
the user's own), naming the publish span; basic_get of a message is a
Consume segment; a basic_get on an empty queue is one too, with the
exchange unknown ("Default").
*/

/*EXPECT
user header kept: yes
traceparent names the publish span: yes
got: hello
empty: NULL
*/

/*EXPECT_METRICS_EXIST
MessageBroker/all, 4
MessageBroker/allOther, 4
MessageBroker/RabbitMQ/all, 4
MessageBroker/RabbitMQ/Exchange/Produce/Named/seraph.test, 1
MessageBroker/RabbitMQ/Exchange/Produce/Named/Default, 1
MessageBroker/RabbitMQ/Exchange/Consume/Named/seraph.test, 1
MessageBroker/RabbitMQ/Exchange/Consume/Named/Default, 1
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "generic",
      "type": "Span",
      "guid": "ENV[PUBLISH_SPAN]",
      "traceId": "??",
      "transactionId": "??",
      "name": "MessageBroker/RabbitMQ/Exchange/Produce/Named/seraph.test",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??",
      "span.kind": "producer"
    },
    {},
    {
      "messaging.destination.name": "seraph.test",
      "messaging.system": "rabbitmq",
      "server.address": "ENV[RABBITMQ_HOST]",
      "messaging.rabbitmq.destination.routing_key": "key",
      "server.port": ENV[RABBITMQ_PORT]
    }
  ]
]
*/

/*EXPECT_TRACED_ERRORS null */

require_once(__DIR__ . '/../include/config.php');
require_once(__DIR__ . '/../include/helpers.php');
require_servers('rabbitmq');
/* Debian 12's php-amqplib predates PHP 8.4, which deprecates its implicitly
 * nullable parameters as each class is compiled; those deprecations are the
 * library's, not what this test checks. */
error_reporting(E_ALL & ~E_DEPRECATED);
require_once('/usr/share/php/PhpAmqpLib/autoload.php');

use PhpAmqpLib\Connection\AMQPStreamConnection;
use PhpAmqpLib\Message\AMQPMessage;
use PhpAmqpLib\Wire\AMQPTable;

$conn = new AMQPStreamConnection($RABBITMQ_HOST, $RABBITMQ_PORT, $RABBITMQ_USER, $RABBITMQ_PASSWORD);
$ch = $conn->channel();
$queue = 'seraph-' . getmypid();
$ch->exchange_declare('seraph.test', 'direct', false, false, true);
list($queue) = $ch->queue_declare($queue, false, false, true, true);
$ch->queue_bind($queue, 'seraph.test', 'key');

$msg = new AMQPMessage('hello', ['application_headers' => new AMQPTable(['x-user' => 'kept'])]);
$ch->basic_publish($msg, 'seraph.test', 'key');
$ch->basic_publish(new AMQPMessage('nowhere'), '', 'no-such-queue-' . getmypid());

$got = null;
for ($i = 0; $i < 50 && !$got; $i++) {
    $got = $ch->basic_get($queue, true);
    if (!$got) {
        usleep(20000);
    }
}
$headers = $got->get('application_headers')->getNativeData();
echo "user header kept: ", ($headers['x-user'] ?? '') == 'kept' ? "yes" : "no", "\n";
$parts = explode('-', $headers['traceparent'] ?? '');
env_var_for_expects('PUBLISH_SPAN', $parts[2] ?? '');
echo "traceparent names the publish span: ", count($parts) == 4 ? "yes" : "no", "\n";
echo "got: ", $got->body, "\n";
echo "empty: ", var_export($ch->basic_get($queue, true), true), "\n";
$ch->close();
$conn->close();

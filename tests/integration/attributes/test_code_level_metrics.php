<?php
/*DESCRIPTION
Code-level metrics: with newrelic.code_level_metrics.enabled, every span of
a traced function carries where it is defined (code.function, and for a
method code.namespace with its class, code.filepath, code.lineno, the
function's first line); the root span and the transaction event carry the
script itself (its path as the function, line 1).
*/

/*INI
newrelic.code_level_metrics.enabled = 1
*/

/*EXPECT
total: 55
*/

/*EXPECT_ANALYTICS_EVENTS
[
  "?? agent run id",
  {"reservoir_size": 50, "events_seen": 1},
  [
    [
      {
        "type": "Transaction",
        "name": "OtherTransaction/php__FILE__",
        "timestamp": "??",
        "duration": "??",
        "totalTime": "??",
        "guid": "??",
        "sampled": true,
        "priority": "??",
        "traceId": "??",
        "error": false
      },
      {},
      {
        "code.lineno": 1,
        "code.filepath": "__FILE__",
        "code.function": "__FILE__"
      }
    ]
  ]
]
*/

/*EXPECT_SPAN_EVENTS_LIKE
[
  [
    {
      "category": "generic",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "OtherTransaction/php__FILE__",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "nr.entryPoint": true,
      "transaction.name": "OtherTransaction/php__FILE__"
    },
    {},
    {
      "code.lineno": 1,
      "code.filepath": "__FILE__",
      "code.function": "__FILE__"
    }
  ],
  [
    {
      "category": "generic",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Custom/Shop\\checkout",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??"
    },
    {},
    {
      "code.lineno": 127,
      "code.filepath": "__FILE__",
      "code.function": "Shop\\checkout"
    }
  ],
  [
    {
      "category": "generic",
      "type": "Span",
      "guid": "??",
      "traceId": "??",
      "transactionId": "??",
      "name": "Custom/Shop\\Cart::total",
      "timestamp": "??",
      "duration": "??",
      "priority": "??",
      "sampled": true,
      "parentId": "??"
    },
    {},
    {
      "code.lineno": 121,
      "code.namespace": "Shop\\Cart",
      "code.filepath": "__FILE__",
      "code.function": "total"
    }
  ]
]
*/

namespace Shop;

class Cart
{
    public function total($n)
    {
        return array_sum(range(1, $n));
    }
}

function checkout($n)
{
    $cart = new Cart();
    return $cart->total($n);
}

newrelic_add_custom_tracer('Shop\checkout');
newrelic_add_custom_tracer('Shop\Cart::total');
echo 'total: ', checkout(10), "\n";

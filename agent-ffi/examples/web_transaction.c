/*
 * A web transaction with a datastore segment, an external segment and a
 * custom segment, attributes, a custom metric, a custom event and an error.
 *
 *   cc web_transaction.c -I<prefix>/include -L<prefix>/lib -lnewrelic
 */
#include <unistd.h>

#include "common.h"

int main(void) {
  newrelic_app_t* app = example_app("Seraph C example");
  newrelic_txn_t* txn;
  newrelic_segment_t* seg;
  newrelic_custom_event_t* event;
  int failures = 0;

  if (!app) {
    return 1;
  }
  txn = newrelic_start_web_transaction(app, "checkout");
  if (!txn) {
    return 1;
  }
  failures += !newrelic_add_attribute_string(txn, "customer", "acme");
  failures += !newrelic_add_attribute_int(txn, "items", 3);
  failures += !newrelic_add_attribute_long(txn, "order_id", 9000000001L);
  failures += !newrelic_add_attribute_double(txn, "total", 99.5);

  {
    newrelic_datastore_segment_params_t params = {
        .product = NEWRELIC_DATASTORE_MYSQL,
        .collection = "orders",
        .operation = "select",
        .host = "db.example",
        .port_path_or_id = "3306",
        .database_name = "shop",
        .query = "SELECT * FROM orders WHERE id = 42",
    };
    seg = newrelic_start_datastore_segment(txn, &params);
    failures += !seg;
    usleep(20000);
    failures += !newrelic_end_segment(txn, &seg);
  }

  {
    newrelic_external_segment_params_t params = {
        .uri = "https://api.example.com/prices?currency=EUR",
        .procedure = "GET",
        .library = "curl",
    };
    seg = newrelic_start_external_segment(txn, &params);
    failures += !seg;
    usleep(10000);
    failures += !newrelic_end_segment(txn, &seg);
  }

  seg = newrelic_start_segment(txn, "render", "View");
  failures += !seg;
  usleep(5000);
  failures += !newrelic_end_segment(txn, &seg);

  failures += !newrelic_record_custom_metric(txn, "Custom/Checkout/Items", 3.0);

  event = newrelic_create_custom_event("Checkout");
  failures += !event;
  failures += !newrelic_custom_event_add_attribute_string(event, "plan", "gold");
  failures += !newrelic_custom_event_add_attribute_int(event, "items", 3);
  failures += !newrelic_custom_event_add_attribute_long(event, "cents", 9950L);
  failures += !newrelic_custom_event_add_attribute_double(event, "rate", 0.25);
  newrelic_record_custom_event(txn, &event);

  newrelic_notice_error(txn, 50, "card declined", "PaymentError");

  failures += !newrelic_end_transaction(&txn);
  failures += !newrelic_destroy_app(&app);
  printf("web_transaction: %d failures\n", failures);
  return failures ? 1 : 0;
}

<?php
require __DIR__ . '/bootstrap.php';

class OutOfStock extends RuntimeException {}

function reserve(int $id, int $quantity): void {
    $db = db();
    $stock = (int)$db->query('SELECT stock FROM products WHERE id = ' . $id)->fetchColumn();
    if ($stock < $quantity) {
        throw new OutOfStock("product $id has only $stock left");
    }
    $db->prepare('INSERT INTO orders (product_id, quantity, created) VALUES (?, ?, datetime())')
       ->execute([$id, $quantity]);
}

newrelic_name_transaction('checkout/place-order');
$id = (int)($_GET['id'] ?? 1);
$quantity = (int)($_GET['qty'] ?? 1);
newrelic_record_custom_event('Order', ['product' => $id, 'quantity' => $quantity]);
reserve($id, $quantity);   // uncaught OutOfStock when qty is too large
render('Thank you', [["order placed for product $id x $quantity"]]);

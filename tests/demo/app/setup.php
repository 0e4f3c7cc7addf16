<?php
// Creates the demo database (run once from the command line: a CLI
// transaction, OtherTransaction/php/setup.php).
require __DIR__ . '/bootstrap.php';
$db = db();
$db->exec('DROP TABLE IF EXISTS products');
$db->exec('DROP TABLE IF EXISTS orders');
$db->exec('CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price REAL, stock INTEGER)');
$db->exec('CREATE TABLE orders (id INTEGER PRIMARY KEY, product_id INTEGER, quantity INTEGER, created TEXT)');
$insert = $db->prepare('INSERT INTO products (name, price, stock) VALUES (?, ?, ?)');
foreach (['teapot', 'kettle', 'mug', 'saucer', 'spoon', 'tray', 'cosy', 'strainer'] as $i => $name) {
    $insert->execute([$name, 4.5 + $i * 3, 10 + $i]);
}
echo "database ready\n";

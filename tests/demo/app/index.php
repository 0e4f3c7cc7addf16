<?php
require __DIR__ . '/bootstrap.php';

function featured_products(): array {
    return db()->query('SELECT id, name, price FROM products ORDER BY price DESC LIMIT 3')
        ->fetchAll(PDO::FETCH_NUM);
}

render('Seraph demo shop', featured_products());

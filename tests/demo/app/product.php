<?php
require __DIR__ . '/bootstrap.php';

function load_product(int $id): array {
    $stmt = db()->prepare('SELECT id, name, price, stock FROM products WHERE id = ?');
    $stmt->execute([$id]);
    return $stmt->fetch(PDO::FETCH_NUM) ?: [];
}

function related_products(int $id): array {
    // Deliberately slow (a recursive CTE): shows up as slow SQL.
    $sql = 'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200000) '
         . 'SELECT p.id, p.name FROM products p WHERE p.id != ' . $id
         . ' AND (SELECT count(*) FROM n) > 0 LIMIT 3';
    return db()->query($sql)->fetchAll(PDO::FETCH_NUM);
}

$id = (int)($_GET['id'] ?? 1);
newrelic_add_custom_parameter('product_id', $id);
$product = load_product($id);
if (!$product) {
    http_response_code(404);
    render('No such product', []);
    return;
}
render('Product ' . $product[1], array_merge([$product], related_products($id)));

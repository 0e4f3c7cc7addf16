<?php
require __DIR__ . '/bootstrap.php';

// An outbound HTTP call (curl): External/<host>/all, with distributed
// tracing headers added to the request.
function stock_service(string $url): int {
    $ch = curl_init($url);
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($ch, CURLOPT_TIMEOUT, 2);
    curl_exec($ch);
    $status = curl_getinfo($ch, CURLINFO_HTTP_CODE);
    curl_close($ch);
    return $status;
}

header('Content-Type: application/json');
$status = stock_service('http://127.0.0.1:' . ($_SERVER['SERVER_PORT'] ?? 80) . '/health.php');
newrelic_custom_metric('Custom/StockService/Status', $status);
echo json_encode(['stock_service' => $status]), "\n";

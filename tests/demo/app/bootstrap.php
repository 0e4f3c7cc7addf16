<?php
// A tiny shop backed by SQLite, used by the README demo (tests/demo.sh).
function db(): PDO {
    static $pdo = null;
    if ($pdo === null) {
        $path = getenv('SERAPH_DEMO_DB') ?: (__DIR__ . '/../shop.sqlite');
        $pdo = new PDO('sqlite:' . $path);
        $pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
    }
    return $pdo;
}

function render(string $title, array $rows): void {
    header('Content-Type: text/html; charset=utf-8');
    echo "<html><head><title>", htmlspecialchars($title), "</title></head><body>";
    echo "<h1>", htmlspecialchars($title), "</h1><ul>";
    foreach ($rows as $row) {
        echo "<li>", htmlspecialchars(implode(' | ', $row)), "</li>";
    }
    echo "</ul></body></html>\n";
}

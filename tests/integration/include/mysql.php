<?php
/*
 * MariaDB helpers for tests that use it (after require_servers('mysql')).
 */

/* A fresh table named $name with rows (1, 'one'), (2, 'two'), (3, 'three'),
 * created through the mysql client so the test sees only its own calls. */
function mysql_test_table($name)
{
    global $MYSQL_HOST, $MYSQL_USER, $MYSQL_PASSWD, $MYSQL_DB, $MYSQL_PORT;
    $cmd = sprintf('mariadb --no-defaults -h %s -P %d -u %s -p%s %s -e %s 2>&1',
        escapeshellarg($MYSQL_HOST), $MYSQL_PORT, escapeshellarg($MYSQL_USER),
        escapeshellarg($MYSQL_PASSWD), escapeshellarg($MYSQL_DB),
        escapeshellarg("DROP TABLE IF EXISTS $name; CREATE TABLE $name (id INT PRIMARY KEY, name VARCHAR(20), KEY (name)); INSERT INTO $name VALUES (1, 'one'), (2, 'two'), (3, 'three');"));
    exec($cmd, $out, $rc);
    if (0 != $rc) {
        echo "cannot create $name: " . implode("\n", $out) . "\n";
        exit(1);
    }
}

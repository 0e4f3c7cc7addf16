<?php
/*
 * Minimal TAP helpers for the integration tests: each prints one
 * "ok - <message>" or "not ok - <message>" line, which EXPECT blocks
 * compare.
 */

function tap_ok($message)
{
    echo "ok - " . $message . "\n";
}

function tap_not_ok($message, $expected = null, $actual = null)
{
    echo "not ok - " . $message . "\n";
    if (func_num_args() > 1) {
        echo "#   expected: " . var_export($expected, true) . "\n";
        echo "#   actual:   " . var_export($actual, true) . "\n";
    }
}

function tap_assert($condition, $message)
{
    if ($condition) {
        tap_ok($message);
    } else {
        tap_not_ok($message);
    }
}

function tap_equal($expected, $actual, $message)
{
    if ($expected == $actual) {
        tap_ok($message);
    } else {
        tap_not_ok($message, $expected, $actual);
    }
}

function tap_identical($expected, $actual, $message)
{
    if ($expected === $actual) {
        tap_ok($message);
    } else {
        tap_not_ok($message, $expected, $actual);
    }
}

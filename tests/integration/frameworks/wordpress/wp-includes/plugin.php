<?php
/* The hook API of WordPress, reduced to what the tests need: callbacks
 * registered per tag, run by the dispatch functions. */
$GLOBALS['mock_hooks'] = [];

function add_filter($tag, $callback, $priority = 10, $accepted_args = 1) {
    $GLOBALS['mock_hooks'][$tag][] = $callback;
    return true;
}

function add_action($tag, $callback, $priority = 10, $accepted_args = 1) {
    return add_filter($tag, $callback, $priority, $accepted_args);
}

function apply_filters($tag, $value, ...$args) {
    foreach ($GLOBALS['mock_hooks'][$tag] ?? [] as $cb) {
        $value = call_user_func_array($cb, array_merge([$value], $args));
    }
    return $value;
}

function apply_filters_ref_array($tag, $args) {
    return apply_filters($tag, ...$args);
}

function do_action($tag, ...$args) {
    foreach ($GLOBALS['mock_hooks'][$tag] ?? [] as $cb) {
        call_user_func_array($cb, $args);
    }
}

function do_action_ref_array($tag, $args) {
    do_action($tag, ...$args);
}

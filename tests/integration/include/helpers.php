<?php
/*
 * Helpers shared by the integration tests.
 */

/*
 * Publishes a value the test's expectations can refer to as ENV[$name].
 * The runner removes these lines from the output before comparing it.
 */
function env_var_for_expects($name, $value)
{
    echo "NR_EXPECT_ENV_VAR[" . $name . "]=" . $value . "\n";
}

/* Burns roughly $ms milliseconds of wall-clock time. */
function spin_ms($ms)
{
    usleep((int)($ms * 1000));
}

<?php
/* Stand-in for Composer's generated autoloader class file. */
class ComposerAutoloaderInitSeraphTest
{
    public static function getLoader()
    {
        return null;
    }
}

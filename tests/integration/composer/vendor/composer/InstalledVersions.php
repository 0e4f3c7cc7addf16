<?php
/* Stand-in for Composer's runtime API class (present, as Composer 2 installs it). */
namespace Composer;

class InstalledVersions
{
}

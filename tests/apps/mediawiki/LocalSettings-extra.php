
# --- Seraph test settings (appended to the installer's LocalSettings.php)
$wgServer = 'http://' . ($_SERVER['HTTP_HOST'] ?? 'localhost');
$wgCacheDirectory = __DIR__ . '/cache';
$wgMainCacheType = CACHE_NONE;
$wgShowExceptionDetails = false;
$wgEnableUploads = false;
$wgJobRunRate = 0;

/* Headers bindgen reads. Only allowlisted items reach Rust (see build.rs). */
#include "php.h"
#include "SAPI.h"
#include "php_ini.h"
#include "ext/standard/info.h"
#include "Zend/zend_observer.h"
#include "Zend/zend_exceptions.h"
#include "Zend/zend_interfaces.h"
#include "shim.h"

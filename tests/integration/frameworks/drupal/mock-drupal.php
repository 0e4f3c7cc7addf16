<?php
/* Drupal's controller resolution, reduced to the classes the agents hook. */
namespace Drupal\Core\Controller {
    class ControllerResolver {
        public function getControllerFromDefinition($definition) {
            return $definition;
        }
    }
    class TitleResolver {
        public function getTitle(ControllerResolver $resolver) {
            $title = $resolver->getControllerFromDefinition('mock_title_callback');
            return $title();
        }
    }
}

namespace Drupal\page_cache\StackMiddleware {
    class PageCache {
        public function get($hit) {
            return $hit ? new \stdClass() : false;
        }
    }
}

namespace Drupal\node\Controller {
    class NodeViewController {
        public function view() {
            return 'node';
        }
    }
}

namespace {
    require_once __DIR__ . '/core/includes/bootstrap.inc';

    function mock_title_callback() {
        return 'Title';
    }
}

# Core holds no data of its own; the health report reads other apps through their selectors.

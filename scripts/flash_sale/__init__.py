"""`make flash-sale`: a burst of orders on one SKU, watched to the last decision (see __main__)."""

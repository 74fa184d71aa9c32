"""Human review: the review queue (a durable store fed by the review topic) and its web app.

``queue`` turns review-topic messages into stored items (idempotent, offsets committed only
after the store has them); ``store`` holds items and claims; ``actions`` turns a reviewer's
decision into a ``review`` interaction event posted through the gateway; ``app`` serves the
pages. Takes :class:`review.config.ReviewConfig` only.
"""

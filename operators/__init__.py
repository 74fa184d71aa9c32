"""Pure curation operators: no Kafka, no Iceberg, no metrics, no wall clock.

The flow (``flows/``) owns I/O, metrics and Bytewax state; these modules only decide.
Every gate returns ``Drop | None`` (:class:`operators.outcome.Drop`: stage, reason,
detail, scores): ``None`` means keep going, a ``Drop`` becomes a rejections row and a
``flywheel_curation_decisions_total{stage, reason}`` increment.

Chain, cheapest first (``edit`` events; other routes stop after routing):

1. ``dedup.WindowedDedup`` — stateful, one per hash bucket (key the step by
   ``dedup.bucket_of(key, cfg.dedup.buckets)``): by ``event_id`` (reason
   ``duplicate_event_id``), then by ``dedup.content_key_of(event)`` for edits
   (``duplicate_content``). Event-time window, replay-safe, picklable. Optional
   (``cfg.dedup.near_duplicate``): ``near_dup.NearDuplicateDetector`` keyed by
   ``bucket_of(near_dup_group(event), buckets)``, ``observe(group, chosen, occurred_at)``
   (reason ``near_duplicate``, MinHash over character shingles).
2. ``routing.route_of(event)`` -> ``Route`` (PAIR_CANDIDATE / POSITIVE_CANDIDATE / FEEDBACK /
   VIEW); ``routing.needs_review(event)`` for the review topic.
3. ``distance.measure_edit(rejected, chosen)`` -> ``EditMeasure`` (the golden delta), then
   ``distance.check_band(measure, cfg.distance)``.
4. ``policy.PolicyEngine.from_file(cfg.policy.path())`` once; per event
   ``engine.evaluate(prompt, chosen, rejected)`` -> ``PolicyVerdict`` (drop, scrubbed texts,
   findings); ``engine.version`` on every row; ``engine.scrub(text)`` for audit rows.
5. ``toxicity.build_backend(cfg.toxicity)`` once; ``backend.score_batch(chosen_texts)`` on
   whole batches, then ``ToxicityGate(cfg.toxicity.thresholds).check(scores)`` per item.
6. ``judge.build_judge(cfg.judge)`` (None by default); ``judge.judge_batch(items)`` and
   ``judge.check_verdict(verdict)``.
7. ``quota.QuotaLedger(cfg.quota)`` — stateful, key the step by ``quota.quota_key(event)``
   (the segment); ``ledger.admit(user_id, segment, occurred_at)``.

Positive candidates: ``sampling.sample_positive(event, cfg.sampling)`` -> ``PositiveSample``
(stratum, sampling_rate) or None. Configuration: ``operators.config.CurationSettings``.
"""

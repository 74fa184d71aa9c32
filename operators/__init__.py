"""Pure curation operators: no Kafka, no Iceberg, no metrics, no wall clock.

The flow (``flows/``) owns I/O, metrics and Bytewax state; these modules only decide.
Every gate returns ``Drop | None`` (:class:`operators.outcome.Drop`: stage, reason,
detail, scores): ``None`` means keep going, a ``Drop`` becomes a rejections row and a
``flywheel_curation_decisions_total{stage, reason}`` increment.

Chain, cheapest first (``edit`` events; other routes stop after routing):

0. ``decode.decode_event(raw, limits)`` then ``decode.clean_event(event)``: NFC, control, bidi
   and invisible characters (zero-width, soft hyphen, tags) removed (returns what it removed,
   for the flow's metric).
1. ``held_dedup.HeldDedup`` — stateful, one per hash bucket (key the step by
   ``dedup.bucket_of(dedup.dedup_key(event), cfg.dedup.buckets)``): events held per (key,
   event-time slot) until every partition's marker (``mark``) is a hold past the slot; the
   canonical, then earliest, then smallest-id duplicate wins (``duplicate_event_id`` /
   ``duplicate_content``); order-independent, replay-safe; its recovery snapshot records each
   winner once (``winners.py``), so it does not grow with the window. Optional
   (``cfg.dedup.near_duplicate``): ``near_dup.NearDuplicateDetector`` keyed by
   ``bucket_of(near_dup_group(event), buckets)``, ``observe(group, chosen, occurred_at)``
   (reason ``near_duplicate``, MinHash over character shingles).
2. ``routing.route_of(event)`` -> ``Route`` (PAIR_CANDIDATE / POSITIVE_CANDIDATE / FEEDBACK /
   VIEW); ``routing.needs_review(event)`` for the review topic.
3. ``distance.measure_edit(rejected, chosen)`` -> ``EditMeasure`` (the golden delta, word
   overlap, the first substantive change from ``edit_kind``), then
   ``distance.check_band(measure, cfg.distance)`` (``trivial_edit`` / ``rewrite``).
4. ``policy.PolicyEngine.from_file(cfg.policy.path())`` once; per event
   ``engine.evaluate(prompt, chosen, rejected)`` -> ``PolicyVerdict`` (drop, scrubbed texts,
   findings; the rules read each text and its ``normalize.folded_view``); ``engine.version`` on
   every row; ``engine.scrub(text)`` for audit rows. Every PII scan (``pii.scan``) goes through a
   memo of recent texts (``pii_gates.ScanMemo``, results never depend on it), so the rows and
   review message built later reuse the gate's scan.
5. ``toxicity.build_scorer(cfg.toxicity)`` once; ``scorer.score_edits(chosen, rejected)`` on
   whole batches (every sentence the user wrote, max per label), then
   ``ToxicityGate(cfg.toxicity.thresholds).check(scores)`` per item.
6. ``judge.build_judge(cfg.judge)`` (None by default); ``judge.judge_batch(items)`` and
   ``judge.check_verdict(verdict)``.
7. ``quota.QuotaLedger(cfg.quota)`` — stateful, key the step by ``quota.quota_key(event)``
   (the segment); ``ledger.admit(user_id, segment, occurred_at)``.

Positive candidates: ``sampling.sample_positive(event, cfg.sampling)`` -> ``PositiveSample``
(stratum, sampling_rate) or None; ``policy.response_pii(response)`` drops one with PII. Rows:
``rows.*_row`` scrub every free-text column; ``rows.scrub_event`` for the review topic.
Configuration: ``operators.config.CurationSettings``.
"""

"""Hand-written material for the held-out curation set (``build_curation_holdout.py``).

Written apart from ``curation_bases.py`` and on purpose unlike it: SQL, shell, Python answers
with fenced code blocks, markdown lists, customer-support prose and math, chatty preambles and
sign-offs. Each answer comes with the edits a user made to it, written as small operations:

* ``("drop", s)`` removes ``s``; ``("only", s)`` keeps only ``s`` (e.g. just the code block);
* ``("add", s)`` appends a sentence; ``("after", anchor, s)`` inserts ``s`` after ``anchor``;
* ``("sub", old, new)`` replaces text (every occurrence): a changed sentence, reordered steps, a
  sentence translated into the user's language.

``fixes`` are small substantive corrections (a number, unit, flag, identifier, negation);
``rewrites`` are answers written from scratch on the same topic with other words (one of
about the same length, one of another length).
"""

from __future__ import annotations

from typing import NamedTuple

Op = tuple[str, ...]


class Held(NamedTuple):
    domain: str
    prompt: str
    answer: str
    edits: list[list[Op]]
    fixes: list[tuple[str, str]]
    rewrites: list[str]


FENCE = "```"

HELD: list[Held] = [
    Held(
        "sql",
        "How do I count orders per customer in Postgres?",
        "Sure! Here's a query that does exactly that:\n\n"
        f"{FENCE}sql\nSELECT customer_id, COUNT(*) AS orders\nFROM orders\nGROUP BY customer_id\n"
        f"ORDER BY orders DESC;\n{FENCE}\n\n"
        "This groups the rows by customer and sorts the busiest customers first. Let me know if you need anything "
        "else!",
        [
            [("drop", "Sure! Here's a query that does exactly that:\n\n")],
            [
                (
                    "only",
                    f"{FENCE}sql\nSELECT customer_id, COUNT(*) AS orders\nFROM orders\nGROUP BY customer_id\n"
                    f"ORDER BY orders DESC;\n{FENCE}",
                )
            ],
            [
                ("sub", "FROM orders\n", "FROM orders\nWHERE status <> 'cancelled'\n"),
                ("add", " Cancelled orders are excluded so refunds do not inflate the counts."),
            ],
            [("drop", " Let me know if you need anything else!")],
        ],
        [("ORDER BY orders DESC", "ORDER BY orders ASC"), ("COUNT(*)", "COUNT(DISTINCT order_id)")],
        [
            "Aggregate the table by the buyer column: pick the buyer id plus a row tally, bucket on that id, then "
            "rank the result descending so your heaviest purchasers appear at the top of the output.",
            "Use a GROUP BY on the customer column.",
        ],
    ),
    Held(
        "sql",
        "How do I delete duplicate rows in MySQL but keep one?",
        "You can use a self-join to delete the duplicates while keeping the row with the lowest id:\n\n"
        f"{FENCE}sql\nDELETE t1 FROM contacts t1\nJOIN contacts t2\n  ON t1.email = t2.email\n  AND t1.id > t2.id;\n"
        f"{FENCE}\n\n"
        "Run a SELECT with the same join first to see which rows would be removed, and take a backup before "
        "deleting anything.",
        [
            [("sub", "AND t1.id > t2.id;", "AND t1.id > t2.id\nWHERE t1.email IS NOT NULL;")],
            [("add", "\n\nAfterwards add a UNIQUE index on email so the duplicates cannot come back.")],
            [
                (
                    "drop",
                    "You can use a self-join to delete the duplicates while keeping the row with the lowest id:\n\n",
                )
            ],
        ],
        [("AND t1.id > t2.id", "AND t1.id < t2.id"), ("ON t1.email = t2.email", "ON t1.phone = t2.phone")],
        [
            "Copy the distinct records into a fresh table with INSERT ... SELECT DISTINCT, swap the two tables by "
            "renaming them, and drop the old one once you have checked the counts match what you expect.",
            "Honestly the cleanest approach in most shops is not to delete in place at all. Build a new table with "
            "a unique constraint, insert every row with INSERT IGNORE so the engine silently skips repeats, verify "
            "row counts and a sample of records, rename both tables in one atomic RENAME TABLE statement, and keep "
            "the original around for a week in case anyone notices missing data.",
        ],
    ),
    Held(
        "sql",
        "What's the difference between WHERE and HAVING?",
        "WHERE filters individual rows before they are grouped, while HAVING filters groups after the aggregation "
        "has been computed. That is why you can use COUNT or SUM in a HAVING clause but not in a WHERE clause. "
        "For example, HAVING COUNT(*) > 5 keeps only the groups with more than five rows.",
        [
            [("add", " Filtering early with WHERE is also cheaper, because fewer rows reach the aggregation.")],
            [
                (
                    "sub",
                    "For example, HAVING COUNT(*) > 5 keeps only the groups with more than five rows.",
                    "For example, WHERE price > 10 drops cheap rows first, and HAVING COUNT(*) > 5 then keeps only the "
                    "groups with more than five rows.",
                )
            ],
        ],
        [("HAVING COUNT(*) > 5", "HAVING COUNT(*) >= 5"), ("before they are grouped", "after they are grouped")],
        [
            "Think of the two clauses as gates at different moments of the query: one screens raw records as they "
            "are read, the other screens the buckets produced by aggregate functions like a total or a tally.",
            "One runs pre-aggregation, the other post-aggregation.",
        ],
    ),
    Held(
        "shell",
        "How do I find all files larger than 100 MB?",
        "Use find with the -size option:\n\n"
        f"{FENCE}bash\nfind / -type f -size +100M 2>/dev/null\n{FENCE}\n\n"
        "The 2>/dev/null part hides permission errors. Add -exec ls -lh {} \\; if you also want to see the sizes.",
        [
            [("sub", "find / -type f", "sudo find / -xdev -type f")],
            [("only", f"{FENCE}bash\nfind / -type f -size +100M 2>/dev/null\n{FENCE}")],
            [("add", " Searching from / can take several minutes on a big disk, so narrow the path if you can.")],
        ],
        [("-size +100M", "-size +100k"), ("2>/dev/null", "2>&1")],
        [
            "Try du piped into sort: du -ah on the folder lists every entry with a human readable size, sort -rh "
            "orders them largest first, and head shows the top twenty so you can spot the offenders quickly.",
            "ncdu is the friendliest tool for this.",
        ],
    ),
    Held(
        "shell",
        "How can I make a script executable?",
        "Run chmod +x script.sh to add the execute permission, then start it with ./script.sh. Make sure the first "
        "line is a shebang such as #!/usr/bin/env bash so the system knows which interpreter to use.",
        [
            [("add", " If the file came from Windows, run dos2unix on it first or the shebang line will fail.")],
            [
                (
                    "sub",
                    "Run chmod +x script.sh to add the execute permission",
                    "Run chmod u+x script.sh to add the execute permission for your user only",
                )
            ],
        ],
        [("chmod +x script.sh", "chmod 777 script.sh"), ("#!/usr/bin/env bash", "#!/bin/sh")],
        [
            "Grant the run bit with the permissions tool, then launch it by its relative path; the interpreter "
            "line at the top tells the kernel which program should read the remaining lines of the file.",
            "Permissions. Set the execute bit and it will run, provided the interpreter line on top points at a "
            "shell that exists on this machine and the file uses Unix line endings rather than carriage returns.",
        ],
    ),
    Held(
        "shell",
        "How do I force push safely?",
        "Use git push --force-with-lease instead of --force. It refuses to overwrite the remote branch if someone "
        "else pushed commits you have not fetched yet, so you cannot silently destroy their work.",
        [
            [("add", " Never force push to main or to any branch other people build on.")],
            [
                (
                    "sub",
                    "Use git push --force-with-lease instead of --force.",
                    "Fetch first, then use git push --force-with-lease instead of --force.",
                )
            ],
        ],
        [
            ("--force-with-lease instead of --force", "--force instead of --force-with-lease"),
            ("It refuses to overwrite", "It does not refuse to overwrite"),
        ],
        [
            "The lease variant compares the remote tip with what you last saw, aborting when a colleague updated "
            "the branch meanwhile, which protects shared history from accidental overwrites during a rebase.",
            "Don't.",
        ],
    ),
    Held(
        "python",
        "How do I read a JSON file in Python?",
        "Great question! You can use the built-in json module:\n\n"
        f"{FENCE}python\nimport json\n\nwith open('data.json') as f:\n    data = json.load(f)\nprint(data)\n{FENCE}\n\n"
        "json.load parses the file into dictionaries and lists. Hope this helps!",
        [
            [("drop", "Great question! "), ("drop", " Hope this helps!")],
            [("sub", "print(data)", "logger.info(data)")],
            [("sub", "with open('data.json') as f:", "with open('data.json', encoding='utf-8') as f:")],
            [
                (
                    "only",
                    f"{FENCE}python\nimport json\n\nwith open('data.json') as f:\n    data = json.load(f)\n"
                    f"print(data)\n{FENCE}",
                )
            ],
        ],
        [("json.load(f)", "json.loads(f)"), ("'data.json'", "'config.json'")],
        [
            "Pathlib makes it short: Path('data.json').read_text() returns the contents as a string, and passing "
            "that string to json.loads gives you back nested dicts and lists you can index straight away.",
            "Use pandas.read_json if the file holds records, since it produces a DataFrame directly; for arbitrary "
            "nested documents the standard library parser is the simpler and more predictable choice, and orjson "
            "is worth a look when speed matters on large inputs.",
        ],
    ),
    Held(
        "python",
        "How do I retry a function call a few times?",
        "Here's a simple retry loop:\n\n"
        f"{FENCE}python\nimport time\n\nfor attempt in range(3):\n    try:\n        result = fetch()\n        break\n"
        f"    except Exception:\n        print('retrying')\n        time.sleep(1)\n{FENCE}\n\n"
        "It tries three times and waits one second between attempts.",
        [
            [("sub", "print('retrying')", "logger.warning('retrying')")],
            [
                ("sub", "time.sleep(1)", "time.sleep(2 ** attempt)"),
                ("sub", "waits one second between attempts", "backs off exponentially between attempts"),
            ],
            [
                ("sub", "except Exception:", "except ConnectionError:"),
                ("add", " Catch only the errors that are worth retrying, never a bare Exception."),
            ],
            [("drop", "Here's a simple retry loop:\n\n")],
        ],
        [("range(3)", "range(5)"), ("time.sleep(1)", "time.sleep(10)")],
        [
            "The tenacity package handles this declaratively: decorate the function with a retry policy that "
            "stops after a few attempts and waits with exponential jitter, and it re-raises the last error.",
            "Use tenacity.",
        ],
    ),
    Held(
        "python",
        "How do I remove duplicates from a list but keep the order?",
        "You can use dict.fromkeys, because dictionaries keep insertion order since Python 3.7:\n\n"
        f"{FENCE}python\nitems = [3, 1, 3, 2, 1]\nunique = list(dict.fromkeys(items))\n"
        f"print(unique)  # [3, 1, 2]\n{FENCE}\n\n"
        "Converting to a set would also remove duplicates, but it does not keep the order.",
        [
            [("add", " The items must be hashable for either approach to work.")],
            [
                (
                    "sub",
                    "Converting to a set would also remove duplicates, but it does not keep the order.",
                    "Avoid set(items) here: it removes duplicates but loses the order.",
                )
            ],
        ],
        [("since Python 3.7", "since Python 3.6"), ("list(dict.fromkeys(items))", "list(set(items))")],
        [
            "Walk the sequence once while remembering what you have already seen in a set, appending each element "
            "to the output only the first time it shows up; that is linear time and keeps the original sequence.",
            "Sorted with a key of index works too, though it is quadratic.",
        ],
    ),
    Held(
        "python",
        "How do I run tasks concurrently with asyncio?",
        "Use asyncio.gather to run several coroutines at the same time:\n\n"
        f"{FENCE}python\nimport asyncio\n\nasync def main():\n"
        f"    results = await asyncio.gather(fetch(1), fetch(2), fetch(3))\n"
        f"    print(results)\n\nasyncio.run(main())\n{FENCE}\n\n"
        "gather returns the results in the same order as the coroutines you passed in.",
        [
            [
                (
                    "sub",
                    "asyncio.gather(fetch(1), fetch(2), fetch(3))",
                    "asyncio.gather(fetch(1), fetch(2), fetch(3), return_exceptions=True)",
                ),
                ("add", " With return_exceptions=True one failure does not cancel the others."),
            ],
            [("sub", "print(results)", "logging.info(results)")],
            [("add", "\n\nOn Python 3.11 and later, asyncio.TaskGroup is the safer choice.")],
        ],
        [
            ("asyncio.run(main())", "asyncio.get_event_loop().run_until_complete(main())"),
            ("in the same order as", "in a different order than"),
        ],
        [
            "Schedule each coroutine as a task with create_task, keep the task objects in a list, then await them "
            "one after another; they all make progress concurrently while the event loop switches between them.",
            "TaskGroup.",
        ],
    ),
    Held(
        "python",
        "Why does my function keep the list from the previous call?",
        "Default argument values are evaluated once, when the function is defined, not on every call. A mutable "
        "default such as def add(item, items=[]) therefore shares one list between all calls. Use None as the "
        "default and create the list inside the function:\n\n"
        f"{FENCE}python\ndef add(item, items=None):\n    if items is None:\n        items = []\n"
        f"    items.append(item)\n"
        f"    return items\n{FENCE}",
        [
            [("add", "\n\nLinters such as ruff flag this pattern as B006.")],
            [
                (
                    "sub",
                    "Default argument values are evaluated once, when the function is defined, not on every call. ",
                    "",
                )
            ],
        ],
        [("if items is None:", "if not items:"), ("items=None", "items=()")],
        [
            "Python builds that empty list a single time at definition, so every invocation appends into the very "
            "same object; pass a sentinel instead and allocate a fresh container on each entry to the function.",
            "It's the mutable default gotcha.",
        ],
    ),
    Held(
        "markdown",
        "What should I check before deploying to production?",
        "Here is a short checklist:\n\n"
        "1. Run the full test suite.\n2. Apply database migrations on staging first.\n3. Check that feature flags "
        "are off.\n4. Tell the on-call engineer.\n\nFollowing these steps avoids most deployment surprises.",
        [
            [("sub", "4. Tell the on-call engineer.", "4. Tell the on-call engineer.\n5. Prepare a rollback plan.")],
            [
                (
                    "sub",
                    "1. Run the full test suite.\n2. Apply database migrations on staging first.",
                    "1. Apply database migrations on staging first.\n2. Run the full test suite.",
                )
            ],
            [
                (
                    "sub",
                    "Following these steps avoids most deployment surprises.",
                    "Mit diesen Schritten vermeiden Sie die meisten Überraschungen beim Deployment.",
                )
            ],
            [("drop", "\n\nFollowing these steps avoids most deployment surprises.")],
            [("sub", "3. Check that feature flags are off.", "3. Check that new feature flags default to off.")],
        ],
        [
            ("3. Check that feature flags are off.", "3. Check that feature flags are on."),
            ("on staging first", "on production first"),
        ],
        [
            "Before shipping, make sure CI is green, schema changes were rehearsed somewhere safe, toggles for "
            "unfinished work stay disabled, and whoever carries the pager this week knows a release is coming.",
            "Tests, migrations, flags, on-call. Done.",
        ],
    ),
    Held(
        "markdown",
        "What are the pros and cons of microservices?",
        "Pros:\n- Teams can deploy independently.\n- Services can scale separately.\n- A failure stays "
        "isolated.\n\nCons:\n- More operational overhead.\n- Network calls add latency.\n- Distributed "
        "transactions are hard.",
        [
            [
                (
                    "sub",
                    "- Distributed transactions are hard.",
                    "- Distributed transactions are hard.\n- Debugging needs distributed tracing.",
                )
            ],
            [
                (
                    "sub",
                    "- A failure stays isolated.",
                    "- A failure stays isolated if you add timeouts and circuit breakers.",
                )
            ],
            [("add", "\n\nFor a small team, a modular monolith is usually the better start.")],
        ],
        [
            ("- Services can scale separately.", "- Services cannot scale separately."),
            ("- Network calls add latency.", "- Network calls reduce latency."),
        ],
        [
            "Splitting a system into many small deployables buys autonomy and elastic scaling per component, but "
            "you pay with infrastructure complexity, slower remote hops and painful cross-service consistency.",
            "It depends on the size of your organisation more than on anything technical.",
        ],
    ),
    Held(
        "markdown",
        "How do I set up SSH keys for GitHub?",
        'Follow these steps:\n\n1. Generate a key with ssh-keygen -t ed25519 -C "work laptop".\n'
        '2. Start the agent with eval "$(ssh-agent -s)" and add the key with ssh-add.\n3. Copy the public key '
        "from ~/.ssh/id_ed25519.pub.\n4. Paste it under Settings > SSH and GPG keys on GitHub.\n5. Test with ssh -T "
        "git@github.com.",
        [
            [
                (
                    "sub",
                    "5. Test with ssh -T git@github.com.",
                    "5. Test with ssh -T git@github.com.\n\nNever share the private key file id_ed25519.",
                )
            ],
            [("sub", '2. Start the agent with eval "$(ssh-agent -s)" and add the key with ssh-add.\n', "")],
            [("sub", "Follow these steps:\n\n", "")],
        ],
        [("ssh-keygen -t ed25519", "ssh-keygen -t rsa -b 4096"), ("~/.ssh/id_ed25519.pub", "~/.ssh/id_ed25519")],
        [
            "Create an Ed25519 pair locally, load it into your agent, then register the .pub half in your account "
            "settings on the website and confirm the handshake works by opening a test connection to the host.",
            "GitHub's own documentation walks through this in detail and covers every operating system, including "
            "the Windows agent service and the macOS keychain integration.",
        ],
    ),
    Held(
        "support",
        "How long does a refund take?",
        "Thanks for reaching out! Once we receive the returned item, refunds are processed within 5-7 business "
        "days. The money goes back to the original payment method, and your bank may need a few more days to show "
        "it on your statement. Is there anything else I can help you with?",
        [
            [("drop", "Thanks for reaching out! "), ("drop", " Is there anything else I can help you with?")],
            [("sub", "Is there anything else I can help you with?", "¿Hay algo más en lo que pueda ayudarle?")],
            [("add", " You will get an e-mail confirmation as soon as the refund is issued.")],
            [("after", "to the original payment method,", " or as store credit if you paid with a gift card,")],
        ],
        [
            ("within 5-7 business days", "within 10 business days"),
            ("to the original payment method", "to your store credit balance"),
        ],
        [
            "We usually turn a returned parcel into money back in about a week of working days; it lands on the "
            "same card or account you used, although some banks take a little longer to display it.",
            "Refunds take about a week.",
        ],
    ),
    Held(
        "support",
        "Can I change my subscription plan mid-month?",
        "Yes, you can switch plans at any time from the Billing page. When you upgrade, we charge the prorated "
        "difference immediately. When you downgrade, the change takes effect at the start of your next billing "
        "cycle, and you keep the current features until then.",
        [
            [("add", " Annual plans can only be changed at renewal.")],
            [
                (
                    "sub",
                    "When you upgrade, we charge the prorated difference immediately.",
                    "When you upgrade, we charge the prorated difference immediately and unlock the new features right "
                    "away.",
                )
            ],
        ],
        [
            ("charge the prorated difference immediately", "charge the full price immediately"),
            ("you keep the current features", "you lose the current features"),
        ],
        [
            "Absolutely: moving up is billed pro rata straight away, while moving down waits for your renewal date "
            "so nothing you already paid for disappears early. Everything is managed from the account settings.",
            "You can, whenever you like.",
        ],
    ),
    Held(
        "support",
        "I forgot my password, what do I do?",
        'No problem! Click "Forgot password" on the login page and enter the e-mail address you signed up with. '
        "We will send you a reset link that is valid for 30 minutes. If you don't see it, check your spam folder.",
        [
            [("drop", "No problem! ")],
            [("add", " For security reasons our support team can never see or reset your password for you.")],
            [("sub", "check your spam folder.", "check your spam folder or request a new link.")],
            [("sub", "If you don't see it, check your spam folder.", "Si no lo ves, revisa tu carpeta de spam.")],
        ],
        [("valid for 30 minutes", "valid for 24 hours"), ("you signed up with", "on your invoice")],
        [
            "Use the reset option below the sign-in form and type in the address tied to your account; a "
            "one-time link arrives shortly and expires after half an hour, so look in junk mail if it is missing.",
            "Reset it from the login screen.",
        ],
    ),
    Held(
        "support",
        "Do you ship internationally?",
        "We currently ship to the EU, the United Kingdom, Canada and the United States. International orders "
        "usually arrive within 7 to 14 days. Import duties and taxes are charged by the destination country and "
        "are not included in our prices.",
        [
            [
                (
                    "sub",
                    "the EU, the United Kingdom, Canada and the United States",
                    "the EU, the United Kingdom, Switzerland, Canada and the United States",
                )
            ],
            [("add", " You can track every parcel from the Orders page.")],
        ],
        [
            ("within 7 to 14 days", "within 3 to 5 days"),
            ("are not included in our prices", "are included in our prices"),
        ],
        [
            "Our couriers deliver across Europe, Britain and North America; overseas parcels take one to two weeks, "
            "and any customs fees are collected on arrival by the local authorities rather than at checkout.",
            "Yes, to most of Europe and North America, though not yet to Asia, Africa, South America or Oceania, "
            "where we hope to add carriers next year once our logistics partner has finished its pilots.",
        ],
    ),
    Held(
        "math",
        "What is the derivative of x^3 * sin(x)?",
        "Use the product rule: (uv)' = u'v + uv'. With u = x^3 and v = sin(x), u' = 3x^2 and v' = cos(x). So the "
        "derivative is 3x^2 sin(x) + x^3 cos(x).",
        [
            [("add", " You can factor it as x^2 (3 sin(x) + x cos(x)).")],
            [
                (
                    "sub",
                    "Use the product rule: (uv)' = u'v + uv'.",
                    "Use the product rule, (uv)' = u'v + uv', since the function is a product of two factors.",
                )
            ],
        ],
        [("3x^2 sin(x) + x^3 cos(x)", "3x^2 sin(x) - x^3 cos(x)"), ("u' = 3x^2", "u' = 2x^3")],
        [
            "Differentiate each factor separately and combine: the cube contributes three times the square "
            "multiplied by the sine, and the sine contributes its cosine multiplied by the cube.",
            "3x²sin x + x³cos x.",
        ],
    ),
    Held(
        "math",
        "If a train travels 180 km in 2.5 hours, what is its average speed?",
        "Average speed is distance divided by time. 180 km / 2.5 h = 72 km/h. So the train's average speed is "
        "72 kilometres per hour.",
        [
            [("add", " That is 20 metres per second.")],
            [
                (
                    "sub",
                    "Average speed is distance divided by time.",
                    "Average speed is total distance divided by total time, including any stops.",
                )
            ],
        ],
        [("72 km/h", "72 m/s"), ("180 km / 2.5 h", "180 km / 2 h")],
        [
            "Divide the kilometres covered by the hours taken: one hundred eighty over two and a half gives "
            "seventy-two, so on average it moves seventy-two kilometres each hour along the route.",
            "Seventy-two.",
        ],
    ),
    Held(
        "math",
        "Is 91 a prime number?",
        "No, 91 is not prime. It can be written as 7 x 13, so it has divisors other than 1 and itself. A quick "
        "way to check is to try dividing by every prime up to the square root of the number, which for 91 is "
        "about 9.5.",
        [
            [("add", " Many people guess it is prime because it is odd and not divisible by 3 or 5.")],
            [("sub", "which for 91 is about 9.5.", "which for 91 means trying 2, 3, 5 and 7.")],
        ],
        [("7 x 13", "7 x 11"), ("about 9.5", "about 8.5")],
        [
            "It is composite: seven goes into it exactly thirteen times. Checking candidate factors below its root "
            "is enough, and that search ends almost immediately for a number this small.",
            "Composite.",
        ],
    ),
    Held(
        "javascript",
        "How do I debounce a function in JavaScript?",
        "Here's a small debounce helper:\n\n"
        f"{FENCE}js\nfunction debounce(fn, delay) {{\n  let timer;\n  return (...args) => {{\n"
        f"    clearTimeout(timer);\n"
        f"    timer = setTimeout(() => fn(...args), delay);\n  }};\n}}\n{FENCE}\n\n"
        "Each call resets the timer, so fn only runs once the calls stop for delay milliseconds.",
        [
            [("add", " Lodash ships a tested version with leading and trailing options.")],
            [("sub", "function debounce(fn, delay) {", "function debounce(fn, delay = 300) {")],
            [("drop", "Here's a small debounce helper:\n\n")],
        ],
        [("clearTimeout(timer)", "clearInterval(timer)"), ("delay milliseconds", "delay seconds")],
        [
            "Keep a pending timeout handle in a closure; every invocation cancels the previous one and schedules a "
            "new one, so the wrapped callback fires only after a quiet period of the chosen length.",
            "Use lodash.debounce, it handles edge cases you will not think of, such as cancelling pending calls "
            "when a component unmounts, flushing the last call immediately, and capping the total wait.",
        ],
    ),
    Held(
        "config",
        "How do I limit a container's CPU in docker-compose?",
        "Set the limit under deploy.resources in your compose file:\n\n"
        f"{FENCE}yaml\nservices:\n  api:\n    image: myapp:latest\n    deploy:\n      resources:\n        limits:\n"
        f"          cpus: '0.5'\n          memory: 512M\n{FENCE}\n\n"
        "This caps the api service at half a CPU core and 512 megabytes of memory.",
        [
            [("add", " Older compose file versions used cpu_shares and mem_limit instead.")],
            [
                ("sub", "image: myapp:latest", "image: myapp:1.4.2"),
                ("add", " Pin the image tag so a restart does not pull a different build."),
            ],
        ],
        [("cpus: '0.5'", "cpus: '2'"), ("memory: 512M", "memory: 512G")],
        [
            "Compose accepts resource caps per service: add a deploy section with limits for processor share and "
            "RAM, and the engine enforces them through cgroups when the stack starts up on the host.",
            "Use the --cpus flag.",
        ],
    ),
]

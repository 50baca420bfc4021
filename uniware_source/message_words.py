"""What Uniware's free-text words on a finished job say: that its file was not made, or holds only part of
the export. Uniware's `message` and `warnings` are prose, not codes; these are the word lists, read in one place.
"""

from __future__ import annotations

import re

# words of a count or a cut, and one said to be none ("Errors: 0", "failedCount=0", "truncated: false")
_N = r"\d[\d,]*"
_CUT = r"(?:truncat\w*|partial\w*|incomplete|cut|clipped|trimmed|capped|limited|skipped|dropped|omitted|rejected|" \
       r"errors?|failures?|failed|aborted|interrupted|timed out)"
_SAID_ZERO = rf"\b(?:\w+ )?{_CUT}(?: \w+)?\s*[:=]\s*(?:0|false|no|none|nil)\b"  # "Errors: 0", "failedCount=0"

# words of a finished job's message (or warnings) that say its file was not made; they decide even beside
# words of having no rows ("failed: no data could be written"): a job with no rows to export says so with
# other words ("no records found"), or nothing. A failure taken for one costs a new job next run, an empty
# export taken for a failure moved the cursor past rows never loaded
_FAILED_WORDS = re.compile(
    r"(?i)\b(?:fail\w*|error\w*|exception|timed? ?out|timeout|exceed\w*|not (?:be )?(?:generated|created|written|"
    r"uploaded|completed|saved)|unable|could not|couldn't|cannot|can't|aborted|abort|crash\w*|cancel+ed|"
    r"cancel+ation|went wrong|unsuccessful\w*|disk full|no space|denied|interrupted|killed|terminated|stopped|"
    r"out of memory|(?:did not|didn't|never|could not|couldn't) (?:complete|finish)\w*|"
    r"file (?:is |was )?(?:not found|missing)|missing file|"
    r"rejected|expired|invalid|truncat\w*|incomplete|cut short|partial(?:ly)? (?:written|exported|generated))\b")


# "with 0 errors", "no failures": words of the list that say there was none
_NONE_OF_THEM = re.compile(r"(?i)\b(?:0|no|zero|without(?: any)?)\s+(?:errors?|failures?|exceptions?)\b")


def says_failed(message: str) -> bool:
    """Whether a finished job's message says its file was not made, or not made whole."""
    text = re.sub(rf"(?i){_SAID_ZERO}", " ", _plain(message))
    return bool(_FAILED_WORDS.search(_NONE_OF_THEM.sub(" ", text)))


# words of a done answer's message *with* its file that say the file holds only part of the export: not
# loaded, as with `errors[]` (a file cut at a row limit loaded 10 rows of 305, exit 0). Only words of a cut,
# not of failing in general: a good file's message may speak of errors, failures or cancelled orders
# ("Errors: 0", "0 records failed", "includes cancelled orders"), and each such word refused it on every run.
_CUT_WORDS = re.compile(
    r"(?i)\b(?:truncat\w*|incomplete|cut (?:short|off)|clipped|trimmed|halted|interrupted|aborted|timed out|"
    r"partial(?:ly)? (?:data|export\w*|files?|results?|reports?|rows?|records?|contents?|downloads?|generated|"
    r"written|exported|completed|downloaded|done)|(?:export\w*|files?|data|reports?|completed|done|finished) partially|"
    r"part of the (?:data|rows|records|export|report)|not (?:fully|completely|all) \w+|not complete\w*|"
    rf"(?:first|top) {_N} (?:\w+ )?(?:rows|records|lines|entries)|"
    rf"only {_N}(?: (?:of|out of) {_N})? (?:rows|records|lines|entries)|only (?:the )?(?:first|top|last)\b|"
    rf"(?:no more than|at most|max(?:imum)?(?: of)?) {_N} (?:rows|records)|{_N} (?:rows?|records?) (?:limit|max\w*)|"
    r"rows? cap|capped|limited to \d|limit\W{1,3}\d[\d,]* (?:rows|records)|exceed\w* (?:the |its |a )?(?:\w+ )?"
    r"(?:limit|max\w*)|(?:limit|max\w*)\b[^.;!?]{0,30}?\b(?:reached|exceeded|hit|applied)\b|"
    r"reached (?:the )?(?:max\w*|limit)|(?:export\w*|file|data|report) limited\W+\d|"
    rf"(?:stopped|aborted|ended|halted) (?:at|after) {_N} (?:rows|records|lines)|(?:stopped|aborted|ended) early|"
    r"(?:ran out|out of time)|"
    r"(?:rows?|records?|lines?|data) (?:\w+ ){0,3}(?:skipped|dropped|omitted|left out|not (?:exported|written|"
    r"included))|not (?:\w+ )?all (?:the )?(?:rows|records|data|lines)|could not (?:be )?(?:export|writ)\w*|"
    r"(?:failed|unable) to (?:export|write)|"
    r"(?:skipped|dropped|omitted) [1-9]|[1-9]\d* (?:\w+ )?(?:rows?|records?) (?:were |was )?(?:skipped|dropped|omitted|"
    r"failed|rejected)|"
    r"with (?:[1-9]\d* |some |several |many )?(?:errors?|failures?|failed (?:rows?|records?))\b"
    r"(?!\W*(?:0|none|nil|no)\b)|[1-9]\d* (?:errors?|failures?|failed (?:rows?|records?))|"
    r"(?:errors?|failures?|failed|skipped|dropped|omitted|rejected)(?: \w+)?\W{1,3}[1-9]|"
    r"(?:truncat\w*|partial|incomplete)\W{1,3}(?:true|yes|1)\b|"
    r"\bpartial(?:ly)?(?=\s*(?:[.;!?,)]|$)))")  # "Without errors, but partial": the word closes its clause
# ... said not to have happened: "truncated: false", "Errors: 0", "Rows skipped: 0", "not reached", "no data was
# truncated", "0 rows skipped", "without truncation", in the same clause ("0 errors but truncated" is a cut)
_NOT_CUT = re.compile(
    rf"(?i){_SAID_ZERO}|"
    r"\b(?:limit|max\w*)\b[^.;!?]{0,20}?\bnot (?:reached|exceeded|hit)\b[^.;!?]*|"
    r"\bnot (?:reached|exceeded|hit|applied|truncated|cut|capped|limited|skipped)\b|"
    r"\btruncat\w* (?:is |was )?(?:disabled|off)\b|"
    r"\b(?:no|not|never|nothing|without|none|zero|0)\b(?:[^\w.,;:!?]+(?!but\b|except\b|however\b|yet\b)\w+){0,4}?"
    rf"[^\w.,;:!?]+{_CUT}\b|\b({_N}) ?(?:of|out of|/) ?\1 (?:\w+ )?(?:rows|records|lines)")
_PART_OF = re.compile(rf"(?i)\b({_N}) ?(?:of|out of|/) ?({_N}) (?:\w+ )?(?:rows|records|lines)")


# ... said with a "not" that is itself the cut, read before the negations are taken out: "3 records were not
# exported due to errors", "rows beyond 65,536 were not included"; and the export itself said to have failed
_CUT_DESPITE_NOT = re.compile(
    rf"(?i)\b(?:[1-9][\d,]*|some|several|many) (?:\w+ )?(?:rows?|records?|lines?|entries) (?:were |was |are |is )?"
    r"(?:not|never) (?:exported|written|included|loaded|downloaded)\b|"
    rf"\b(?:rows?|records?|lines?|entries|data) (?:beyond|after|past|over|above) (?:the first )?{_N}\b[^.;!?]{{0,30}}?"
    r"\b(?:not (?:exported|written|included)|omitted|dropped|skipped|cut|truncated|left out)\b|"
    r"\b(?:export|job|report|file|generation|task)s? (?:has |have |was |is )?(?:failed|aborted|crashed|errored)\b")
# more words of a cut that the negations above would not reach: "Some rows failed", "1 failed", "(max allowed)"
_CUT_MORE = re.compile(
    r"(?i)\b(?:some|several|many) (?:rows?|records?|lines?|entries) (?:were |have )?(?:failed|rejected|skipped)\b|"
    r"\b[1-9][\d,]* failed(?=\s*(?:[.;,)]|$))|\((?:max|maximum|limit)\w*(?: allowed| reached| hit)?\)")


def says_cut_short(message: str) -> bool:
    """Whether a done answer's message, beside its file, says the file holds only part of the export."""
    plain = _plain(message)
    if _CUT_DESPITE_NOT.search(plain):
        return True
    text = _NOT_CUT.sub(" ", plain)
    if _CUT_WORDS.search(text) or _CUT_MORE.search(text):
        return True
    return any(int(part.replace(",", "")) < int(whole.replace(",", "")) for part, whole in _PART_OF.findall(text))


# words of a done answer without a file that say the file is still to come ("File is being generated, please
# check again shortly"): its job is not taken as an export with no rows
_NOT_READY_WORDS = re.compile(
    r"(?i)\b(?:being (?:generated|prepared|processed|created|written|uploaded|exported)|(?:is |still )generating|"
    r"in progress|in queue|queued|check (?:back|again)|try again|retry (?:later|shortly|in)|"
    r"not (?:yet )?(?:ready|available|generated|uploaded)|not yet\b|please wait|still (?:processing|running|working)|"
    r"will be (?:available|ready|generated|uploaded|sent|shared|emailed|mailed))\b")


def says_not_ready(message: str) -> bool:
    """Whether a done answer's message, without its file, says the file is still to come."""
    return bool(_NOT_READY_WORDS.search(_plain(message)))


def _plain(message: str) -> str:
    """Words run together split apart: `isTruncated`, `FILE_TRUNCATED`, `failedCount`."""
    return re.sub(r"([a-z])([A-Z])", r"\1 \2", message).replace("_", " ")

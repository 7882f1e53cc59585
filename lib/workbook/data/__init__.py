"""Every data set the course uses, loaded offline from code or installed packages.

Nothing here imports torch at import time: NumPy-only notebooks stay quick to start.
"""

from workbook.data.cmudict_g2p import load_cmudict_g2p
from workbook.data.dates import load_dates
from workbook.data.digits import Split, digit_images, load_digit_images, load_digits
from workbook.data.seq2seq import Batch, Seq2SeqData, Vocab
from workbook.data.shakespeare import ShakespeareData, load_shakespeare, load_text
from workbook.data.toy import linearly_separable, moons, spirals, xor
from workbook.data.wiki import load_analogies, load_simlex, load_wiki, load_wordsim

__all__ = ["Split", "load_digits", "digit_images", "load_digit_images", "linearly_separable", "xor", "spirals",
           "moons", "Vocab", "Batch", "Seq2SeqData", "load_cmudict_g2p", "load_dates",
           "ShakespeareData", "load_shakespeare", "load_text",
           "load_wiki", "load_analogies", "load_wordsim", "load_simlex"]


def prepare_caches() -> list[str]:
    """Build the derived data that is cached (``runtime.cache_dir()``) wherever it can be
    built here, so that a process that may only read the cache (a grading kernel in its
    sandbox) finds it ready; the names of the caches that are ready."""
    ready = []
    try:
        from workbook.data import wiki

        wiki.load_wiki(limit_tokens=1)
        ready.append("wiki tokens")
    except (ImportError, OSError):  # gensim missing, or no writable cache: built in memory
        pass
    return ready

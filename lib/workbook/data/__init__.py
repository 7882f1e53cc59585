"""Every data set the course uses, loaded offline from code or installed packages.

Nothing here imports torch at import time: NumPy-only notebooks stay quick to start.
"""

from workbook.data.cmudict_g2p import load_cmudict_g2p
from workbook.data.dates import load_dates
from workbook.data.digits import Split, digit_images, load_digits
from workbook.data.seq2seq import Batch, Seq2SeqData, Vocab
from workbook.data.shakespeare import ShakespeareData, load_shakespeare, load_text
from workbook.data.toy import linearly_separable, moons, spirals, xor
from workbook.data.wiki import load_analogies, load_simlex, load_wiki, load_wordsim

__all__ = ["Split", "load_digits", "digit_images", "linearly_separable", "xor", "spirals",
           "moons", "Vocab", "Batch", "Seq2SeqData", "load_cmudict_g2p", "load_dates",
           "ShakespeareData", "load_shakespeare", "load_text",
           "load_wiki", "load_analogies", "load_wordsim", "load_simlex"]

"""Every data set the course uses, loaded offline from code or installed packages."""

from workbook.data.digits import Split, digit_images, load_digits
from workbook.data.toy import linearly_separable, moons, spirals, xor

__all__ = ["Split", "load_digits", "digit_images", "linearly_separable", "xor", "spirals", "moons"]

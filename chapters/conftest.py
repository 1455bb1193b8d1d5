"""nbval validates the chapters of the book: the notebooks that _toc.yml lists.

A notebook in chapters/ that the toc does not list yet is a draft. Collecting
the directory skips it; naming it (pytest chapters/NN_name.ipynb) still runs
it, which is how its author validates it until it is whole and listed.
"""
from nbutils.notebook import ROOT, book_chapters

collect_ignore = [str(draft) for draft in book_chapters(ROOT)[1]]

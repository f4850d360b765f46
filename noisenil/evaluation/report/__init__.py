"""Comparison reports: ``report.md`` and ``report.html`` (:mod:`.writer`, rendered by
:mod:`.markdown` and :mod:`.html` from one :mod:`.content`, formatted by :mod:`.tables`), audio
examples (:mod:`.audio`) and figures (:mod:`.plots`, :mod:`.spectrograms`, :mod:`.figures`)."""

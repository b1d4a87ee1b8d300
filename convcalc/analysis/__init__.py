"""Analytic passes over a spec: shapes, counts, receptive fields. No torch here."""

from convcalc.analysis.core import Analysis, LayerReport, ReceptiveField, analyze

__all__ = ["Analysis", "LayerReport", "ReceptiveField", "analyze"]

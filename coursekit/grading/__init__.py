"""Grading tools: checks for hidden tests, the sandboxed evaluator, and the release.

The verdict on a submission is made outside the student's kernel; see
:mod:`coursekit.grading.checks` and DESIGN.md ("trust nothing the student's kernel can reach").
"""

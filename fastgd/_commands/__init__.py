"""The command line: ``fastgd demo|fit|predict|bench``, parsed in ``fastgd.__main__``."""

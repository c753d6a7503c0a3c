"""Packaging for tripost. All settings live in settings.ini; edit them there, not here.

nbdev's `nbdev_export` writes a pyproject.toml whose `[project]` table declares most fields dynamic,
so every one of them is set here from settings.ini.
"""
import shlex
from configparser import ConfigParser
from pathlib import Path

import setuptools
from setuptools.command.build_py import build_py

config = ConfigParser(delimiters=['='])
config.read(Path(__file__).parent / 'settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

expected = ('version description keywords author author_email lib_name user branch license status '
            'min_python audience language git_url').split()
for key in expected: assert key in cfg, f"settings.ini is missing the setting: {key}"

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License'),
            'mit': ('MIT License', 'OSI Approved :: MIT License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable',
            '6 - Mature', '7 - Inactive']
py_versions = '3.10 3.11 3.12 3.13'.split()
lic = licenses.get(cfg['license'].lower(), (cfg['license'], None))
min_python = cfg['min_python']


class BuildPyWithStudy(build_py):
    """Also put the study notebooks (their one source is nbs/study) into the package as tripost/study,
    so that `tripost reproduce` runs from an installed wheel; an editable install finds nbs/study itself."""
    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False): return
        notebooks = sorted((Path(__file__).parent / 'nbs' / 'study').glob('[0-9]*.ipynb'))
        assert notebooks, "no study notebooks in nbs/study: build from a clone or from the sdist"
        dest = Path(self.build_lib) / cfg['lib_path'] / 'study'
        self.mkpath(str(dest))
        for nb in notebooks: self.copy_file(str(nb), str(dest / nb.name))


setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    keywords=cfg['keywords'].split(),
    author=cfg['author'],
    author_email=cfg['author_email'],
    license=lic[0],
    classifiers=['Development Status :: ' + statuses[int(cfg['status'])],
                 'Intended Audience :: ' + cfg['audience'].title(),
                 'Natural Language :: ' + cfg['language'].title()]
                + ['Programming Language :: Python :: ' + v for v in py_versions[py_versions.index(min_python):]]
                + (['License :: ' + lic[1]] if lic[1] else []),
    url=cfg['git_url'],
    project_urls={'Source': cfg['git_url']},
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']),
    include_package_data=True,
    package_data={cfg['lib_name']: shlex.split(cfg.get('package_data', ''))},
    install_requires=shlex.split(cfg.get('requirements', '')),
    extras_require={'dev': shlex.split(cfg.get('dev_requirements', '')),
                    'vllm': ['vllm']},
    python_requires='>=' + min_python,
    long_description=(Path(__file__).parent / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    zip_safe=False,
    cmdclass={'build_py': BuildPyWithStudy},
    scripts=[],
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(),
                  'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
)
